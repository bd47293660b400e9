/** Full and incremental backups, restore and listing. */
export {};
