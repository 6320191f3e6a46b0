/**
 * The device protocol's MQTT topic layout (docs/PROTOCOL.md):
 *
 *   qhub/hub/status                 hub → all     retained  {"v":1,"state":"online"|"offline",...}
 *   qhub/dev/{id}/status            device → all  retained  online (with model, fw) / offline (last will)
 *   qhub/dev/{id}/press             dispenser → hub          a button press
 *   qhub/dev/{id}/ticket            hub → dispenser          the ticket to print
 *   qhub/dev/{id}/cmd               keypad → hub             next, recall, done, ...
 *   qhub/dev/{id}/screen            hub → keypad  retained   the keypad's screen
 *   qhub/dev/{id}/display           hub → board/display retained  what to show
 *   qhub/dev/{id}/announce          hub → speaker            one call to announce
 *   qhub/dev/{id}/played            speaker → hub            an announcement finished (optional)
 *   qhub/dev/{id}/error             hub → device             a request was refused
 *
 * Which of these a device may publish or subscribe to comes from its model
 * definition (`sends`, `accepts`).
 */
export const ROOT = 'qhub';
export const HUB_STATUS = `${ROOT}/hub/status`;
/** The open alerts (retained): {v, open: [{alert, kind, device?, service?, message, since}]}. */
export const HUB_ALERTS = `${ROOT}/hub/alerts`;

export const devTopic = (id: string, leaf: string) => `${ROOT}/dev/${id}/${leaf}`;

/** Parses `qhub/dev/{id}/{leaf}`; undefined for anything else. */
export function parseDevTopic(topic: string): { id: string; leaf: string } | undefined {
  const parts = topic.split('/');
  if (parts.length !== 4 || parts[0] !== ROOT || parts[1] !== 'dev' || !parts[2] || !parts[3]) return undefined;
  return { id: parts[2], leaf: parts[3] };
}
