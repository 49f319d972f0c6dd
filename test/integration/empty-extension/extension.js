// The activation baseline of `npm run bench`: an extension that does nothing.
'use strict';
exports.activate = () => ({});
exports.deactivate = () => undefined;
