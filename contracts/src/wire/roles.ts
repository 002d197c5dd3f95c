// Who may be whom: the one table of what each role's certificates may name. The CA checks every
// registration and every request against it (a Standesamt is `psw:`, an Elterngeldstelle `egs:`,
// …); only the hub's own two identities carry the `hub` role, and only server identities carry
// DNS/IP names. A new role needs a line here before the CA issues anything for it.
import type { Role } from '../envelope.ts';
import { hubIdentity, hubIngressIdentity } from './subjects.ts';

export interface RoleRule {
  /** The DVDV address prefix every address of this role has (`psw` in `psw:11007007`). */
  readonly prefix: string;
  /** When set, the only addresses this role may have. */
  readonly addresses?: readonly string[];
  /** A server identity: its certificates may name DNS/IP server names (only registered ones). */
  readonly serverIdentity: boolean;
  /** Issued only through the hub's own enrolment or an explicit, loud operator flag. */
  readonly hubIdentity: boolean;
}

export const roleRules: Readonly<Record<Role, RoleRule>> = {
  standesamt: { prefix: 'psw', serverIdentity: false, hubIdentity: false },
  meldebehoerde: { prefix: 'mbh', serverIdentity: false, hubIdentity: false },
  elterngeldstelle: { prefix: 'egs', serverIdentity: false, hubIdentity: false },
  familienkasse: { prefix: 'fka', serverIdentity: false, hubIdentity: false },
  auditor: { prefix: 'aud', serverIdentity: false, hubIdentity: false },
  // The Datenschutzcockpit.
  cockpit: { prefix: 'dsc', serverIdentity: false, hubIdentity: false },
  hub: { prefix: 'hub', addresses: [hubIdentity.dvdv, hubIngressIdentity.dvdv], serverIdentity: false, hubIdentity: true },
};

/** Why `role` may not have `dvdv`, or undefined when it may. */
export function roleAddressMismatch(role: Role, dvdv: string): string | undefined {
  const rule = roleRules[role];
  const prefix = dvdv.split(':')[0];
  if (prefix !== rule.prefix) return `a ${role} has a ${rule.prefix}: address, not ${dvdv}`;
  if (rule.addresses && !rule.addresses.includes(dvdv)) return `the ${role} role is only for ${rule.addresses.join(', ')}, not ${dvdv}`;
  return undefined;
}

/** The role whose addresses have this address's prefix. */
export function roleOfAddress(dvdv: string): Role | undefined {
  const prefix = dvdv.split(':')[0];
  return (Object.entries(roleRules) as [Role, RoleRule][]).find(([, r]) => r.prefix === prefix)?.[0];
}
