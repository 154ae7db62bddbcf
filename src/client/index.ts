// `lainlet/client`: a typed client for lainlet's HTTP API (GET and watch).
export { LainletClient, createClient, type ClientOptions, type CallOptions, type AnswerWithMeta } from './client.js';
export type { WatchEvent, WatchOptions } from './watch.js';
export { LainletError, LainletConnectionError, LainletProtocolError } from './errors.js';
export { ROUTES, findRoute, type RouteInfo, type RouteName, type RoutePath, type AnswerOf, type ParamsOf, type WatchableRoute } from './routes.js';
export { Backoff, type BackoffOptions } from './backoff.js';
export { SseParser, type RawSseEvent } from './sse.js';
export { diffAnswers, formatSummary, describeAnswer, jsonDifferences, type ChangeSummary, type PathDifference } from './diff.js';
export { checkSwitchOver, type SwitchCheckOptions, type SwitchCheckReport, type QueryResult, type Outcome } from './switch-check.js';
export type * from '../views/answers.js';
