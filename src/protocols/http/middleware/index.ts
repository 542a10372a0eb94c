/** The HTTP middleware suite, written once for every engine (DESIGN §4). */
export { apiKey } from './api-key.js';
export type { ApiKeyCheck, ApiKeyOptions } from './api-key.js';
export { basicAuth, parseBasic } from './basic-auth.js';
export type { BasicAuthOptions } from './basic-auth.js';
export { bearerJwt, checkClaims } from './bearer-jwt.js';
export type { BearerJwtOptions, JwtAlgorithm, JwtClaims, JwtFailure } from './bearer-jwt.js';
export { bodyLimit } from './body-limit.js';
export type { BodyLimitOptions } from './body-limit.js';
export { compression, isCompressible, negotiateEncoding } from './compression.js';
export type { CompressionEncoding, CompressionOptions } from './compression.js';
export { safeEqual } from './constant-time.js';
export { cors } from './cors.js';
export type { CorsOptions, CorsOriginMatcher } from './cors.js';
export { rateLimit, remoteAddressKey } from './rate-limit.js';
export type { RateLimitOptions } from './rate-limit.js';
export { recovery } from './recovery.js';
export type { RecoveryOptions } from './recovery.js';
export { requestLogger } from './request-logger.js';
export type { RequestLogLevel, RequestLogRecord, RequestLoggerOptions } from './request-logger.js';
export { requestTimeout } from './request-timeout.js';
export type { RequestTimeoutOptions } from './request-timeout.js';
export { securityHeaders } from './security-headers.js';
export type {
  CrossOriginOpenerPolicy,
  HstsOptions,
  ReferrerPolicy,
  SecurityHeadersOptions,
} from './security-headers.js';
