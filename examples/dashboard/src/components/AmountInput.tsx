// A number field that shows its value grouped ("1,100,000") and takes what people type
// ("1 100 000", "1,100,000.5"); it reports the text typed, which the caller parses (parseAmount).
import { useState, type InputHTMLAttributes } from "react";
import { grouped, parseAmount } from "../format";

type Props = Omit<InputHTMLAttributes<HTMLInputElement>, "value" | "onChange"> & {
  value: string;
  onChange: (text: string) => void;
};

export function AmountInput({ value, onChange, onFocus, onBlur, ...rest }: Props) {
  // While focused the field shows exactly what is being typed, starting from the text it showed,
  // so focusing never changes the text (or loses a selection).
  const [draft, setDraft] = useState<string | null>(null);
  const parsed = parseAmount(value);
  const shown = draft ?? (parsed == null || parsed === "" ? value : grouped(parsed));
  return (
    <input
      inputMode="decimal"
      autoComplete="off"
      {...rest}
      value={shown}
      aria-invalid={parsed == null ? true : rest["aria-invalid"]}
      onFocus={(e) => { setDraft(shown); onFocus?.(e); }}
      onBlur={(e) => { setDraft(null); onBlur?.(e); }}
      onChange={(e) => { setDraft(e.target.value); onChange(e.target.value); }}
    />
  );
}
