/**
 * PHP that opens the instance's database from the variables a deploy gives
 * the app (DB_HOST, DB_PORT, DB_DATABASE, DB_USERNAME, DB_PASSWORD), into `$m`:
 * the first lines of the test apps' pages and release hooks.
 */
export const PHP_CONNECT = '$m = new mysqli(getenv("DB_HOST"), getenv("DB_USERNAME"), getenv("DB_PASSWORD"), getenv("DB_DATABASE"), (int) getenv("DB_PORT"));';

/** PHP_CONNECT for pages that must fail loudly (an exception on any error) and never be cached. */
export const PHP_CONNECT_STRICT = `header("Cache-Control: no-store"); mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT); ${PHP_CONNECT}`;
