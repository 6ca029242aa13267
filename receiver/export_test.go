package receiver

// FNV1a32 is fnv1a32, for the external tests.
var FNV1a32 = fnv1a32
