/**
 * How a browser authenticates a WebSocket: it cannot set an `Authorization` header on one, so
 * it offers the token as a second subprotocol, `mags-token.TOKEN`, after the protocol it speaks
 * (`mags-shell`), which the server selects. The token stays out of the URL and so out of logs,
 * history and Referer headers.
 */
export const shellProtocol = 'mags-shell';
export const tokenProtocolPrefix = 'mags-token.';

export const webSocketProtocols = (token: string) => [
  shellProtocol,
  `${tokenProtocolPrefix}${token}`,
];
