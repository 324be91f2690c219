// Light and dark themes: CSS variables switched by data-theme on <html>, chosen once from the
// system preference and then by the user (kept in localStorage). Charts read their colors from
// the same variables and are re-created when the theme changes.
import { useSyncExternalStore } from 'react';

export type Theme = 'light' | 'dark';
const KEY = 'tickscope.theme';

function initial(): Theme {
  try {
    const saved = localStorage.getItem(KEY);
    if (saved === 'light' || saved === 'dark') return saved;
  } catch {
    // Storage disabled (a privacy setting): the system preference decides.
  }
  return typeof matchMedia === 'function' && matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

let theme: Theme = initial();
const listeners = new Set<() => void>();
document.documentElement.dataset.theme = theme;

export function setTheme(next: Theme): void {
  theme = next;
  document.documentElement.dataset.theme = next;
  try {
    localStorage.setItem(KEY, next);
  } catch {
    // Storage disabled (a privacy setting): the choice lasts as long as the page.
  }
  for (const l of listeners) l();
}

export function toggleTheme(): void {
  setTheme(theme === 'dark' ? 'light' : 'dark');
}

export function useTheme(): Theme {
  return useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    () => theme,
  );
}

/** A CSS variable's current value (charts draw on canvas and need real colors). */
export function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

export const RUN_COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777', '#4b5563', '#65a30d'];
export const RUN_COLORS_DARK = ['#60a5fa', '#f87171', '#4ade80', '#c084fc', '#fb923c', '#22d3ee', '#facc15', '#f472b6', '#9ca3af', '#a3e635'];

export function runColor(index: number, t: Theme = theme): string {
  const palette = t === 'dark' ? RUN_COLORS_DARK : RUN_COLORS;
  return palette[index % palette.length]!;
}
