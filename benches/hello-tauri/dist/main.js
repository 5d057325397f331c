// Tell the shell the first screen is painted, exactly as the Tripline UI does after it
// mounts (ui/src/main.ts): in the animation frame after the next one, so both apps are
// timed to the same point.
requestAnimationFrame(() =>
  requestAnimationFrame(() => {
    window.__TAURI_INTERNALS__.invoke('ready');
  }),
);
