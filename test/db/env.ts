// The environment through which test/run.ts tells the test files about the database servers: a
// URL per database (also settable by hand, to use a server of one's own), or why there is none.
export const TEST_DB_ENV = {
  postgres: { url: 'SIPSD_TEST_PG_URL', skip: 'SIPSD_TEST_PG_SKIP' },
  mysql: { url: 'SIPSD_TEST_MYSQL_URL', skip: 'SIPSD_TEST_MYSQL_SKIP' },
} as const;
