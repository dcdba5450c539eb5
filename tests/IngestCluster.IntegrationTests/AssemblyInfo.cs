// The labs run one at a time: they share two cores, and the failover lab measures outages that a parallel lab's
// load would distort.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
