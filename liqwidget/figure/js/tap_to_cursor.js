// A click on the map moves the time cursor there (within the slider's range).

/** Set the cursor slider to the clicked time. */
export default function tapToCursor({ slider }, tap) {
  if (tap.x != null) slider.value = Math.min(Math.max(tap.x, slider.start), slider.end);
}
