/**
 * Country-code groups usable in topology rules. `EU` in a country list stands for the member states
 * of the European Economic Area (GDPR scope), so residency rules read like the regulation does.
 */

export const COUNTRY_GROUPS: Readonly<Record<string, readonly string[]>> = {
  EU: [
    'AT', 'BE', 'BG', 'HR', 'CY', 'CZ', 'DK', 'EE', 'FI', 'FR', 'DE', 'GR', 'HU', 'IE', 'IT', 'LV', 'LT',
    'LU', 'MT', 'NL', 'PL', 'PT', 'RO', 'SK', 'SI', 'ES', 'SE', 'IS', 'LI', 'NO',
  ],
};

/** Expand groups (`EU`) into ISO 3166-1 alpha-2 codes, keeping order and dropping repeats. */
export function expandCountries(codes: readonly string[]): string[] {
  const out = new Set<string>();
  for (const c of codes) for (const x of COUNTRY_GROUPS[c] ?? [c]) out.add(x);
  return [...out];
}
