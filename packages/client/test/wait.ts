export { waitFor } from '@megaphone/testing';
