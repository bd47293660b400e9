/** `npm run demo`. */
export {};
