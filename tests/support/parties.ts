// Parties for the tests: made as the exchange makes them (hub/src/runner/parties.ts, shared with the bench).
import { certificateSigner, type Signer } from '../../contracts/index.ts';
import { issueParty } from '../../hub/src/runner/parties.ts';

export * from '../../hub/src/runner/parties.ts';

/** A party issued by the CA in `caDir`, as the signer it would run with. */
export async function signerOfParty(caDir: string, request: Parameters<typeof issueParty>[1]): Promise<Signer> {
  const p = await issueParty(caDir, request);
  return certificateSigner(p.privateKey, p.certificatePem);
}
