/**
 * Presigned URLs are passwords until they expire (X-Amz-Signature, X-Amz-Security-Token): wherever a URL
 * can reach a log line or an error message, its query string is cut off first.
 */
const URL_QUERY = /\b((?:https?|s3):\/\/[^\s?'"<>]+)\?[^\s'"<>]*/gi;

export function redactUrls(text: string): string {
  return text.replace(URL_QUERY, '$1?[redacted]');
}
