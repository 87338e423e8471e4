/** The session's observer port; it lives in the leaf proxy/observer.ts so metrics.ts need not import the session. */
export { nullSessionObserver, sessionEndReasons } from '../observer.js';
export type { ByteDirection, CancelResult, SessionEndReason, SessionObserver } from '../observer.js';
