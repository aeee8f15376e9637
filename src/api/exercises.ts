// The seed's four exercises by number (docs/exercises.md): what a request may name. The
// exercises themselves are src/exercise/ (a test keeps the two lists in step).

export const exerciseNumbers: readonly number[] = [1, 2, 3, 4];
