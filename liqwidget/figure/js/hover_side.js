// Hover text of a real liquidation marker's side (its `short` column is 0 or 1).

/** Which forced order a liquidation was. */
export default function hoverSide(_args, short) {
  return short ? "short (forced buy)" : "long (forced sell)";
}
