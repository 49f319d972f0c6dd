#!/usr/bin/env node
'use strict';
require('../dist/hmm-sim.js');
