/**
 * ghostnet/webrtc: WebRTC data channels (node-datachannel) with signaling over ghostnet's
 * WebSocket.
 */
export * from './signaling.js';
export {
  WebRtcPeer,
  WebRtcConnection,
  WebRtcError,
  parseWebRtcSignal,
  webRtcCleanup,
} from '../../transport/webrtc.js';
export type {
  WebRtcSignal,
  WebRtcIceServer,
  WebRtcPeerOptions,
  WebRtcPeerEvents,
} from '../../transport/webrtc.js';
