import { useEffect, useState } from "react";

function useMedia(query: string): boolean {
  const [matches, setMatches] = useState(() => window.matchMedia(query).matches);
  useEffect(() => {
    const list = window.matchMedia(query);
    const onChange = () => setMatches(list.matches);
    onChange();
    list.addEventListener("change", onChange);
    return () => list.removeEventListener("change", onChange);
  }, [query]);
  return matches;
}

/** The single-column layout (phones, narrow windows): the width styles.css switches at. */
export const useNarrow = () => useMedia("(max-width: 1000px)");

/** A phone's width (styles.css's phone block): tables switch to compact amounts. */
export const usePhone = () => useMedia("(max-width: 640px)");
