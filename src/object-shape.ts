/**
 * `{ ...base, ...extra }`, built so that the objects share a hidden class. In Node 20's
 * V8, once the code is optimised, an object literal that starts with a spread and adds
 * properties after it gives every object it makes a hidden class of its own (node
 * --allow-natives-syntax, %HaveSameMap: 1,991 changes in 2,000 objects; a plain
 * `{ ...x }` copy and Object.assign into a fresh object: none). Each such object then
 * carries its own descriptor array (~700 bytes per tensor report kept to the end of a
 * run) and every later read of its properties is a megamorphic lookup.
 *
 * For small objects only: Object.assign adds the fields as keyed stores, and past ~17
 * fields V8 keeps the result as a dictionary (%HasFastProperties, an optimised loop of
 * 20,000: none at 17 fields, all at 20), slow to read and to stringify. That is why a
 * tensor report (~30 fields) is joined as text from its parts (tensor-json.ts
 * stringifyJoined) and a fit gains rssMethod on a spread copy (tensor-recipes.ts).
 */
export function extended<A extends object, B extends object>(base: A, extra: B): Extended<A, B> {
  // Object.assign's own type is the intersection; what it does is the spread's.
  return Object.assign({}, base, extra) as unknown as Extended<A, B>;
}

/**
 * A with B's fields replacing its own, as the spread `{ ...a, ...b }` is typed (per
 * member of a union A); an intersection would make a field of two types `never` and
 * let any value through.
 */
export type Extended<A, B> = A extends unknown ? Omit<A, keyof B> & B : never;
