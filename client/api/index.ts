// `tickscope/client`: a client for scripts and notebooks (tickscope-client.ts), and the parts it
// is made of, for whoever needs the protocol itself (session-socket.ts) or the HTTP API
// (control-api.ts).
export { TickscopeClient, TickscopeError, type DownloadResult, type OpenOptions, type QueryOptions, type QueryResult, type SocketFactory } from './tickscope-client.js';
export { SessionSocket, type Answer, type RequestBody, type SocketLike } from './session-socket.js';
export { ControlApi, ControlApiError } from './control-api.js';
