export const OPERATOR_PAGE = '<!doctype html><title>Megaphone operator</title>';
