// Writes a Parquet file with DuckDB (an independent writer) from a SQL query:
//   node duckdb-parquet.mjs <out.parquet> "<select ...>"
import { DuckDBInstance } from '@duckdb/node-api';

const [, , out, query] = process.argv;
const db = await DuckDBInstance.create(':memory:');
const connection = await db.connect();
await connection.run(`COPY (${query}) TO '${out.replaceAll("'", "''")}' (FORMAT parquet)`);
