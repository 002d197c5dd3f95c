// Child process for the connector crash test: the Elterngeldstelle's delivery consumer writing
// each delivery's inbox file and answering it, until it is killed. Prints `ready` once it consumes.
import { connect } from '@nats-io/transport-node';
import { certificateTrust } from '../../connectors/kit/trust.ts';
import { caCertFileOf, crlFileOf } from '../../hub/src/pki/pki.ts';
import { startEgsConsumer } from './agencyUnderTest.ts';

const [natsUrl, caDir, partyDir, stateDir, inboxDir] = process.argv.slice(2);
if (!natsUrl || !caDir || !partyDir || !stateDir || !inboxDir) throw new Error('usage: agencyConsumerChild NATS_URL CA_DIR PARTY_DIR STATE_DIR INBOX_DIR');
const trust = certificateTrust({ dir: partyDir, caCertFile: caCertFileOf(caDir), crlFile: crlFileOf(caDir) });
const nc = await connect({ servers: natsUrl });
const consumer = await startEgsConsumer(nc, trust, { stateDir, inboxDir }, { ackWaitMs: 3000, maxDeliver: 100 });
process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  void consumer
    .stop()
    .then(() => nc.close())
    .then(() => process.exit(0));
});
