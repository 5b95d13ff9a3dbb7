// Inline SVG icons: they render the same with any system fonts (an emoji needs a colour-emoji font).

/** A padlock; with a label it is announced, without one it is decoration next to text that says it. */
export function LockIcon({ label }: { label?: string }) {
  return (
    <svg
      className="icon lock-icon"
      viewBox="0 0 16 16"
      width="14"
      height="14"
      role={label ? "img" : undefined}
      aria-label={label}
      aria-hidden={label ? undefined : true}
      focusable="false"
    >
      {label && <title>{label}</title>}
      <path d="M4.5 7V5a3.5 3.5 0 0 1 7 0v2" fill="none" stroke="currentColor" strokeWidth="1.6" />
      <rect x="2.5" y="7" width="11" height="8" rx="1.5" fill="currentColor" />
    </svg>
  );
}
