/**
 * `qhub print-test`: renders a sample ticket to files so an installer can
 * check the ticket without paper, and send the exact job to a printer by
 * hand (`cat ticket.bin > /dev/ttyUSB0`) to check the printer without the
 * hub.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderTicket, ticketJob, type TicketOptions, type TicketView } from './ticket.js';

/** A ticket as the hub would send it on a busy morning, with every field used. */
export const SAMPLE_TICKET: TicketView = {
  t: 'A042',
  service: 'intake',
  name: { ar: 'استلام الطلبات', en: 'Request intake' },
  center: { ar: 'مركز خدمة المواطنين – الحي الأول', en: 'Citizen Service Center – District 1' },
  day: '2026-11-24',
  date: '2026-11-24',
  time: '09:41',
  ahead: 7,
  waitMin: 12,
};

/**
 * Writes `ticket.png` (the 1-bit image, dot for dot) and `ticket.bin` (the
 * bytes the printer gets) into `dir`, creating it; returns both paths.
 */
export function writePrintTest(dir: string, view: TicketView = SAMPLE_TICKET, opts: TicketOptions = {}): { png: string; bin: string } {
  mkdirSync(dir, { recursive: true });
  // One rendering for both files, so the PNG is exactly the printed image.
  const { png, bitmap } = renderTicket(view, opts);
  const bytes = ticketJob(bitmap);
  const paths = { png: join(dir, 'ticket.png'), bin: join(dir, 'ticket.bin') };
  writeFileSync(paths.png, png);
  writeFileSync(paths.bin, bytes);
  return paths;
}
