/**
 * Time formatting for the UI, and a clock that ticks only while something shows a
 * relative time (one shared interval, stopped when nothing reads it).
 */
import { createSubscriber } from 'svelte/reactivity';

const TICK_MS = 15_000;

const subscribe = createSubscriber((update) => {
  const timer = setInterval(update, TICK_MS);
  return () => clearInterval(timer);
});

/** The current time in ms; reading it inside an effect or template re-runs it every tick. */
export function now(): number {
  subscribe();
  return Date.now();
}

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto', style: 'short' });
const full = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'long' });

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['year', 365 * 24 * 3600],
  ['month', 30 * 24 * 3600],
  ['week', 7 * 24 * 3600],
  ['day', 24 * 3600],
  ['hour', 3600],
  ['minute', 60],
];

/** "3 min. ago", "in 2 hr.", "yesterday", "just now" — relative to `nowMs`. */
export function formatRelative(date: Date, nowMs: number): string {
  const seconds = Math.round((date.getTime() - nowMs) / 1000);
  if (Math.abs(seconds) < 45) return 'just now';
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size) return relative.format(Math.round(seconds / size), unit);
  }
  return relative.format(Math.round(seconds / 60), 'minute');
}

/** The full local date and time, e.g. for a tooltip. */
export function formatFull(date: Date): string {
  return full.format(date);
}

/** Parses an RFC 3339 timestamp; `undefined` if it is not one. */
export function parseTimestamp(value: string): Date | undefined {
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
