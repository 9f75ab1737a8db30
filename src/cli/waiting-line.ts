/**
 * A line on stderr while the CLI waits for a long request that reports nothing until it answers
 * (`mags project create` and `refresh`: the server answers when the import and setup are done):
 * a spinner with the seconds so far, redrawn on a terminal; elsewhere a line at once and one
 * every 30 s after.
 */
export function waitingLine(label: string, stream: NodeJS.WriteStream = process.stderr) {
  const terminal = stream.isTTY === true;
  const frames = ['|', '/', '-', '\\'];
  const startedAt = Date.now();
  let frame = 0;
  const seconds = () => Math.round((Date.now() - startedAt) / 1000);
  const draw = () => {
    frame = (frame + 1) % frames.length;
    stream.write(`\r\x1b[K${frames[frame]} ${label} (${seconds()} s)`);
  };
  const timer = terminal
    ? setInterval(draw, 200)
    : setInterval(() => stream.write(`mags: ${label}, ${seconds()} s so far\n`), 30_000);
  timer.unref();
  if (terminal) draw();
  else stream.write(`mags: ${label}...\n`);
  return {
    /** Clears the line (on a terminal) and stops. */
    stop() {
      clearInterval(timer);
      if (terminal) stream.write('\r\x1b[K');
    },
  };
}
