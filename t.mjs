import { openStore } from './dist/server/session/store.js';
import { planRequest } from './dist/server/session/queries/index.js';
const st = await openStore({ storePath: process.argv[2], memoryLimit: '1GB', threads: 2 });
const sector = [...st.catalog.sectors][0];
const p = await planRequest({ type: 'request', id: 1, query: 'breakdown', params: { by: 'symbol', filters: { sectors: [sector] }, limit: 10000 } }, st.catalog)(async () => [[0n]]);
console.log(p.statements[0].sql);
