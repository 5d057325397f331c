/**
 * The trigger just made in this window, so its page can greet it ("copy its URL now")
 * once. Holds only the name — never a token.
 */
let recent = $state<string | undefined>();

/** Notes that `name` was just created. */
export function markCreated(name: string) {
  recent = name;
}

/** True once for the trigger just created; clears the mark. */
export function takeCreated(name: string): boolean {
  if (recent !== name) return false;
  recent = undefined;
  return true;
}
