// Runs one SQL query with DuckDB (an independent Parquet reader) and prints its rows as JSON:
//   node duckdb-query.mjs "<select ...>"
import { DuckDBInstance } from '@duckdb/node-api';

const [, , query] = process.argv;
const db = await DuckDBInstance.create(':memory:');
const connection = await db.connect();
const reader = await connection.runAndReadAll(query);
console.log(JSON.stringify(reader.getRowObjectsJson()));
