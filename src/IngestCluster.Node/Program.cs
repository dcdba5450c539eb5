// The node's entry point is being wired (issue: a single ingest node, end to end).
Console.Error.WriteLine("IngestCluster.Node: not wired yet");
return 1;
