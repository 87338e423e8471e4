/** Public API of the AWS emulator (STS, Redshift, Redshift Serverless) used by `rsproxy demo` and the tests. */
export { startEmulator } from './server.js';
export type { Emulator, EmulatorOptions, RecordedStsRequest } from './server.js';
export type { EmulatorPrincipal } from './principals.js';
export type { EmulatorCluster } from './redshift.js';
export type { EmulatorWorkgroup } from './redshift-serverless.js';
export { Operation } from './faults.js';
export type { FaultSpec } from './faults.js';
export { createPgUpstreamAdmin, MissingGroupError } from './upstream-admin.js';
export type { UpstreamAdmin, DbUserLoginRequest, CallerLoginRequest, DbUserLoginResult, PgUpstreamAdminOptions } from './upstream-admin.js';
export type { EmulatorLogger } from './xml.js';
export { nameProblem } from './names.js';
