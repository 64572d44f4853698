// Several tests compare the server-side start and end times of concurrent requests. Run test classes one at a
// time so that they do not compete for the (few) cores; each test is still free to be as concurrent as it needs.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
