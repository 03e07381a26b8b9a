/**
 * GS1 key arithmetic, mirroring contracts/common/GS1.sol: keys are digit strings (leading zeros
 * matter) ending in a mod-10 check digit weighted 3,1,3… from the rightmost data digit.
 */
export function gs1CheckDigit(data: string): number {
  if (!/^[0-9]+$/.test(data)) throw new Error(`not a digit string: ${data}`);
  let sum = 0;
  for (let i = 0; i < data.length; i++) {
    const digit = Number(data[data.length - 1 - i]);
    sum += i % 2 === 0 ? digit * 3 : digit;
  }
  return (10 - (sum % 10)) % 10;
}

export function hasValidCheckDigit(key: string): boolean {
  return /^[0-9]{2,}$/.test(key) && gs1CheckDigit(key.slice(0, -1)) === Number(key.at(-1));
}

/** A GLN from a company prefix and a location reference (13 digits with check digit). */
export function glnFor(companyPrefix: string, locationReference: number | string): string {
  const ref = String(locationReference).padStart(12 - companyPrefix.length, "0");
  const data = companyPrefix + ref;
  if (data.length !== 12) throw new Error(`prefix ${companyPrefix} leaves no room for location ${locationReference}`);
  return data + gs1CheckDigit(data);
}

/** A GTIN-14: indicator digit, company prefix, item reference, check digit. */
export function gtinFor(companyPrefix: string, itemReference: number | string, indicator = 0): string {
  const data = `${indicator}${companyPrefix}${String(itemReference).padStart(12 - companyPrefix.length, "0")}`;
  if (data.length !== 13) throw new Error(`prefix ${companyPrefix} leaves no room for item ${itemReference}`);
  return data + gs1CheckDigit(data);
}

/** An SSCC: extension digit, company prefix, serial reference, check digit (18 digits). */
export function ssccFor(companyPrefix: string, serial: number | string, extension = 0): string {
  const data = `${extension}${companyPrefix}${String(serial).padStart(16 - companyPrefix.length, "0")}`;
  if (data.length !== 17) throw new Error(`prefix ${companyPrefix} leaves no room for serial ${serial}`);
  return data + gs1CheckDigit(data);
}
