/**
 * A tiny hash router: the URL after `#` names the screen, so reloads and the back
 * button work inside the webview without a server.
 *
 *   #/apps                              applications list
 *   #/apps/<name>                       one application
 *   #/templates                         templates list
 *   #/templates/<name>                  one template
 *   #/templates/<name>/diff?from=1&to=3 two versions of a template compared
 *   #/triggers                          triggers list
 *   #/triggers/<name>                   one trigger
 *   #/records?trigger=<name>            access records, optionally of one trigger
 *   #/records/<id>                      one access record
 *   #/listener, #/clusters, #/settings
 *
 * `router.route` is reactive; build links with `paths` and navigate with `go`.
 */

export type Route =
  | { name: 'apps' }
  | { name: 'app'; app: string }
  | { name: 'templates' }
  | { name: 'template'; template: string; diff?: { from?: number; to?: number } }
  | { name: 'triggers' }
  | { name: 'trigger'; trigger: string }
  | { name: 'records'; trigger?: string }
  | { name: 'record'; id: string }
  | { name: 'listener' }
  | { name: 'clusters' }
  | { name: 'settings' }
  | { name: 'demo' }
  | { name: 'not-found'; path: string };

/** The top-level section a route belongs to, i.e. which nav entry is current. */
export type Section =
  | 'apps'
  | 'templates'
  | 'triggers'
  | 'records'
  | 'listener'
  | 'clusters'
  | 'settings';

const enc = encodeURIComponent;

/** Link targets, already escaped. Use as `href={'#' + paths.app(name)}` or `go(paths.app(name))`. */
export const paths = {
  apps: () => '/apps',
  app: (name: string) => `/apps/${enc(name)}`,
  templates: () => '/templates',
  template: (name: string) => `/templates/${enc(name)}`,
  templateDiff: (name: string, from: number, to: number) =>
    `/templates/${enc(name)}/diff?from=${from}&to=${to}`,
  triggers: () => '/triggers',
  trigger: (name: string) => `/triggers/${enc(name)}`,
  records: (trigger?: string) => (trigger ? `/records?trigger=${enc(trigger)}` : '/records'),
  record: (id: string) => `/records/${enc(id)}`,
  listener: () => '/listener',
  clusters: () => '/clusters',
  settings: () => '/settings',
} as const;

export const DEFAULT_PATH = paths.apps();

function decode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

function int(value: string | null): number | undefined {
  if (value === null || !/^\d+$/.test(value)) return undefined;
  return Number(value);
}

/** Parses a path such as `/templates/web/diff?from=1&to=3` into a route. */
export function parse(path: string): Route {
  const [pathname, search = ''] = path.split('?', 2) as [string, string?];
  const query = new URLSearchParams(search);
  const parts = pathname.split('/').filter(Boolean).map(decode);
  if (parts.some((p) => p === undefined)) return { name: 'not-found', path };
  const [head, id, tail, ...rest] = parts as string[];
  if (rest.length > 0) return { name: 'not-found', path };

  switch (head) {
    case 'apps':
      if (tail !== undefined) break;
      return id === undefined ? { name: 'apps' } : { name: 'app', app: id };
    case 'templates':
      if (id === undefined) return { name: 'templates' };
      if (tail === undefined) return { name: 'template', template: id };
      if (tail === 'diff') {
        return {
          name: 'template',
          template: id,
          diff: { from: int(query.get('from')), to: int(query.get('to')) },
        };
      }
      break;
    case 'triggers':
      if (tail !== undefined) break;
      return id === undefined ? { name: 'triggers' } : { name: 'trigger', trigger: id };
    case 'records':
      if (tail !== undefined) break;
      if (id !== undefined) return { name: 'record', id };
      return { name: 'records', trigger: query.get('trigger') ?? undefined };
    case 'listener':
    case 'clusters':
    case 'settings':
      if (id === undefined) return { name: head };
      break;
    case '_demo':
      if (import.meta.env.DEV && id === undefined) return { name: 'demo' };
      break;
  }
  return { name: 'not-found', path };
}

/** The nav section a route is under. */
export function sectionOf(route: Route): Section | undefined {
  switch (route.name) {
    case 'apps':
    case 'app':
      return 'apps';
    case 'templates':
    case 'template':
      return 'templates';
    case 'triggers':
    case 'trigger':
      return 'triggers';
    case 'records':
    case 'record':
      return 'records';
    case 'listener':
    case 'clusters':
    case 'settings':
      return route.name;
    default:
      return undefined;
  }
}

function currentPath(): string {
  return window.location.hash.replace(/^#/, '') || '/';
}

class Router {
  /** The path after `#`, e.g. `/apps/web`. */
  path = $state(currentPath());
  route: Route = $derived(parse(this.path));
  section: Section | undefined = $derived(sectionOf(this.route));

  constructor() {
    if (this.path === '/') {
      // Replace rather than push, so Back does not return to the empty hash.
      history.replaceState(null, '', `#${DEFAULT_PATH}`);
      this.path = DEFAULT_PATH;
    }
    window.addEventListener('hashchange', () => (this.path = currentPath()));
  }
}

export const router = new Router();

/** Navigates to `path` (e.g. `paths.app('web')`), adding a history entry. */
export function go(path: string) {
  if (path === router.path) return;
  window.location.hash = path;
}
