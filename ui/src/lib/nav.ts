/**
 * The main navigation: order, labels, where each entry goes and its icon. App.svelte
 * renders it and binds Ctrl+1…7 to the entries in this order.
 */
import { paths, type Section } from './router.svelte';

export interface NavEntry {
  section: Section;
  label: string;
  path: string;
  /** SVG path data on a 16×16 grid, stroked. */
  icon: string;
}

export const NAV: readonly NavEntry[] = [
  {
    section: 'apps',
    label: 'Applications',
    path: paths.apps(),
    icon: 'M2.5 2.5h4.5v4.5h-4.5zM9 2.5h4.5v4.5H9zM2.5 9h4.5v4.5h-4.5zM9 9h4.5v4.5H9z',
  },
  {
    section: 'templates',
    label: 'Templates',
    path: paths.templates(),
    icon: 'M4 1.75h5.5l3 3v9.5H4zM9.5 1.75v3h3M6 8h4.5M6 10.75h4.5',
  },
  {
    section: 'triggers',
    label: 'Triggers',
    path: paths.triggers(),
    icon: 'M9 1.5L3.5 9h4l-1 5.5L12.5 7h-4z',
  },
  {
    section: 'records',
    label: 'Access records',
    path: paths.records(),
    icon: 'M2.5 3.5h1M6 3.5h7.5M2.5 8h1M6 8h7.5M2.5 12.5h1M6 12.5h7.5',
  },
  {
    section: 'listener',
    label: 'Listener',
    path: paths.listener(),
    icon: 'M8 9.5v5M6.6 8a1.4 1.4 0 1 0 2.8 0a1.4 1.4 0 1 0-2.8 0M4.8 11a4.5 4.5 0 0 1 0-6M11.2 5a4.5 4.5 0 0 1 0 6M2.7 13a7.5 7.5 0 0 1 0-10M13.3 3a7.5 7.5 0 0 1 0 10',
  },
  {
    section: 'clusters',
    label: 'Clusters',
    path: paths.clusters(),
    icon: 'M8 1.5l5.6 3.25v6.5L8 14.5l-5.6-3.25v-6.5zM8 1.5v6.5M8 8l5.6-3.25M8 8L2.4 4.75M8 8v6.5',
  },
  {
    section: 'settings',
    label: 'Settings',
    path: paths.settings(),
    icon: 'M2 4.5h7M12 4.5h2M2 11.5h2M7 11.5h7M9 4.5a1.5 1.5 0 1 0 3 0a1.5 1.5 0 1 0-3 0M4 11.5a1.5 1.5 0 1 0 3 0a1.5 1.5 0 1 0-3 0',
  },
];
