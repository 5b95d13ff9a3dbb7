// A number field that shows its value grouped ("1,100,000") and takes what people type
// ("1 100 000", "1,100,000.5"); the value it reports stays the text typed, parsed by the caller.
import { useState, type InputHTMLAttributes } from "react";
import { grouped, parseAmount } from "../format";

type Props = Omit<InputHTMLAttributes<HTMLInputElement>, "value" | "onChange"> & {
  value: string;
  onChange: (text: string) => void;
};

export function AmountInput({ value, onChange, onFocus, onBlur, ...rest }: Props) {
  const [focused, setFocused] = useState(false);
  const parsed = parseAmount(value);
  // While typing show exactly what was typed; otherwise the grouped number (or the bad text as is).
  const shown = focused || parsed == null || parsed === "" ? value : grouped(parsed);
  return (
    <input
      inputMode="decimal"
      autoComplete="off"
      {...rest}
      value={shown}
      aria-invalid={parsed == null ? true : rest["aria-invalid"]}
      onFocus={(e) => { setFocused(true); onFocus?.(e); }}
      onBlur={(e) => { setFocused(false); onBlur?.(e); }}
      onChange={(e) => onChange(e.target.value)}
    />
  );
}
