// The entry of web/static/crypto.js: the device crypto for the pages.
import * as crypto from './crypto.js';

globalThis.primaryvoteCrypto = Object.freeze({ ...crypto });
