// Label of the time cursor slider: the tick (epoch ms) as "YYYY-MM-DD HH:MM UTC".

/** Format one epoch-millisecond tick in UTC. */
export default function cursorFormat(_args, tick) {
  return new Date(tick).toISOString().slice(0, 16).replace("T", " ") + " UTC";
}
