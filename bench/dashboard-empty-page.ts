/**
 * The benchmark's baseline: a ticket page with an "empty bundle", no framework, no SDK. Its one
 * script does the same stream-follow as the dashboard (fetch of the ticket's SSE with the token
 * in the Authorization header) and renders each event with appendChild, as the dashboard's
 * ticket page does: one element with `data-event-id` inside `[data-testid=ticket-events]`.
 * `batched` appends the events of a frame together in one requestAnimationFrame callback, as the
 * ticket page does: the difference to the unbatched page is the batching's, the rest the
 * framework's.
 */
import { brotliCompressSync, gzipSync } from 'node:zlib';

export function emptyPageScript(ticketId: string, batched = false): string {
  const show = batched
    ? `pending.push(item);
      if (pending.length === 1) requestAnimationFrame(() => { list.append(...pending); pending = []; });`
    : 'list.appendChild(item);';
  return `(async () => {
  const list = document.querySelector('[data-testid=ticket-events]');
  const token = sessionStorage.getItem('mags.token');
  let pending = [];
  const response = await fetch('/v1/tickets/${ticketId}/events?after=0&follow=true', {
    headers: { authorization: 'Bearer ' + token },
  });
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf('\\n\\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block.split('\\n').filter((line) => line.startsWith('data:')).map((line) => line.slice(5).trim()).join('\\n');
      if (!data || !/^id:/m.test(block)) continue;
      const event = JSON.parse(data);
      const item = document.createElement('li');
      item.dataset.eventId = String(event.id);
      item.textContent = event.data.type + ': ' + (event.data.text ?? event.data.message ?? '');
      ${show}
    }
  }
})();`;
}

/**
 * The newest event is shown first (a reversed flex column) so that it is on screen, where the
 * browser paints it and Element Timing sees it, without a script scrolling to it; the ticket page
 * keeps its newest event in view by scrolling.
 */
export function emptyPageHtml(ticketId: string, batched = false): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>empty bundle</title></head>
<body><ol data-testid="ticket-events" style="display:flex;flex-direction:column-reverse"></ol><script type="module">${emptyPageScript(ticketId, batched)}</script></body></html>`;
}

/** The baseline script's size, compressed as the dashboard's files are. */
export function emptyPageSize(): { rawBytes: number; gzipBytes: number; brotliBytes: number } {
  const bytes = Buffer.from(emptyPageScript('tkt_0000000000000000'));
  return {
    rawBytes: bytes.length,
    gzipBytes: gzipSync(bytes, { level: 9 }).length,
    brotliBytes: brotliCompressSync(bytes).length,
  };
}
