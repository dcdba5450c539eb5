Console.Error.WriteLine("IngestCluster.Lab: no peers yet");
return 1;
