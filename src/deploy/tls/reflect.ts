/**
 * The Reflect metadata API that @peculiar/x509 needs (its tsyringe container refuses to load
 * without `Reflect.getMetadata`). The library's README asks for a polyfill such as
 * reflect-metadata; none is a dependency here, and x509 only stores and reads plain metadata
 * (`design:paramtypes` of its no-argument algorithm classes, injection tokens), so this is the
 * smallest honest implementation: per-target maps, with `get` walking the prototype chain.
 * It installs nothing when a real polyfill is already loaded. Import it before @peculiar/x509.
 */
type Target = object;
const store = new WeakMap<Target, Map<unknown, Map<string | symbol | undefined, unknown>>>();

function own(target: Target, key: unknown, prop: string | symbol | undefined): { has: boolean; value: unknown } {
  const m = store.get(target)?.get(key);
  return m !== undefined && m.has(prop) ? { has: true, value: m.get(prop) } : { has: false, value: undefined };
}

const api = {
  defineMetadata(key: unknown, value: unknown, target: Target, prop?: string | symbol): void {
    let byKey = store.get(target);
    if (byKey === undefined) store.set(target, (byKey = new Map<unknown, Map<string | symbol | undefined, unknown>>()));
    let byProp = byKey.get(key);
    if (byProp === undefined) byKey.set(key, (byProp = new Map<string | symbol | undefined, unknown>()));
    byProp.set(prop, value);
  },
  getOwnMetadata(key: unknown, target: Target, prop?: string | symbol): unknown {
    return own(target, key, prop).value;
  },
  getMetadata(key: unknown, target: Target, prop?: string | symbol): unknown {
    for (let t: Target | null = target; t !== null; t = Object.getPrototypeOf(t) as Target | null) {
      const found = own(t, key, prop);
      if (found.has) return found.value;
    }
    return undefined;
  },
  hasMetadata(key: unknown, target: Target, prop?: string | symbol): boolean {
    return api.getMetadata(key, target, prop) !== undefined;
  },
  metadata(key: unknown, value: unknown) {
    return (target: Target, prop?: string | symbol): void => api.defineMetadata(key, value, target, prop);
  },
};

const R = Reflect as unknown as Record<string, unknown>;
if (typeof R['getMetadata'] !== 'function') {
  for (const [name, fn] of Object.entries(api)) R[name] = fn;
}
