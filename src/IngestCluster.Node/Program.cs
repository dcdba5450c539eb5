using IngestCluster.Node.Hosting;

// IngestCluster node: settings from appsettings.json (next to the program), INGEST_-prefixed environment
// variables (INGEST_Demand__Joinfile=...) and the command line (--Demand:Joinfile=...), in that order of
// precedence, lowest first. Every key, default and unit: docs/settings.md. The node itself: Hosting/NodeHost.cs.
NodeApplication node;
try
{
    node = NodeHost.Build(args);
}
catch (NodeStartException e)
{
    Console.Error.WriteLine($"ingest: {e.Message}");
    return 2;
}
await using (node)
{
    await node.RunAsync();
}
return 0;
