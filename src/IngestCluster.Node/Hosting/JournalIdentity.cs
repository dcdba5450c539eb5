using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace IngestCluster.Node.Hosting;

/// <summary>
/// Which journal a node writes to, as an identity stored in the journal's own database: a random id written once
/// into a one-row table <c>ingest_journal_identity</c>, read back by every node that opens the same database.
/// Two members whose identities differ do not share one journal (a misconfigured connection string, or SQLite
/// files on two hosts), so a singleton that moves between them would recover nothing: the node reports that
/// loudly (<see cref="ClusterFactsActor"/>).
/// </summary>
public static class JournalIdentity
{
    public static async Task<string> ReadOrCreate(PersistenceSettings persistence, CancellationToken cancel)
    {
        await using DbConnection connection = persistence.Provider == "postgresql"
            ? new NpgsqlConnection(persistence.ConnectionString)
            : new SqliteConnection(persistence.ConnectionString);
        await connection.OpenAsync(cancel);
        await Execute(connection, "CREATE TABLE IF NOT EXISTS ingest_journal_identity (k INTEGER PRIMARY KEY, id TEXT NOT NULL)", null, cancel);
        await Execute(connection, "INSERT INTO ingest_journal_identity (k, id) VALUES (1, @id) ON CONFLICT (k) DO NOTHING",
            Guid.NewGuid().ToString("N"), cancel);
        await using var read = connection.CreateCommand();
        read.CommandText = "SELECT id FROM ingest_journal_identity WHERE k = 1";
        return (string)(await read.ExecuteScalarAsync(cancel))!;
    }

    private static async Task Execute(DbConnection connection, string sql, string? id, CancellationToken cancel)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        if (id is not null)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = "id";
            parameter.Value = id;
            command.Parameters.Add(parameter);
        }
        await command.ExecuteNonQueryAsync(cancel);
    }
}
