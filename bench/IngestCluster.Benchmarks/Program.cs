using System.Reflection;
using BenchmarkDotNet.Running;

// Not typeof(Program): IngestCluster.Node (referenced) has its own top-level Program, and the names clash (CS0436).
BenchmarkSwitcher.FromAssembly(Assembly.GetExecutingAssembly()).Run(args);
