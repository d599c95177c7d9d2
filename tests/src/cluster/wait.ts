import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };
export { freePort } from '@megaphone/testing';

export { waitFor } from '@megaphone/testing';
